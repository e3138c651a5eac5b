"""Normalisation and stable term ids."""

from __future__ import annotations

from etl import vocab
from etl.warehouse import Warehouse


def test_normalize_nfc_invisibles_and_spaces() -> None:
    decomposed = "\u1107\u1162\u110e\u1175"  # 배치 as conjoining jamo
    assert vocab.normalize(f"  {decomposed}\u200b  정규화\t") == "배치 정규화"


def test_norm_key_folds_case_and_korean_spaces() -> None:
    assert vocab.norm_key("Batch  Normalization") == "batch normalization"
    assert vocab.norm_key("배치 정규화") == vocab.norm_key("배치정규화")
    assert vocab.norm_key("배치 정규화", ignore_spaces=False) != vocab.norm_key("배치정규화", ignore_spaces=False)


def test_lang() -> None:
    assert [vocab.lang(t) for t in ("머신러닝", "machine learning", "AI 모델", "123")] == ["ko", "en", "mixed", "mixed"]


def test_ids_are_stable_and_deterministic(wh: Warehouse) -> None:
    with wh.record("demo") as run:
        first = vocab.ensure_terms(wh, ["모델", "model", " 모델 "], "test", run.run_id)
    assert first == {"model": 1, "모델": 2}
    wh.execute("DELETE FROM terms")  # a rebuild drops the rows; the ids stay in the registry
    with wh.record("demo") as run:
        second = vocab.ensure_terms(wh, ["학습", "모델"], "test", run.run_id)
    assert second == {"모델": 2, "학습": 3}
    rows = wh.execute("SELECT term_id, text, norm, lang FROM terms ORDER BY term_id").fetchall()
    assert rows == [(2, "모델", "모델", "ko"), (3, "학습", "학습", "ko")]
