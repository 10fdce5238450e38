"""scripts/tools/compare_finetune_recipes.py: every recipe fine-tunes the same base on the same photos and is
scored beside the base on the same held-out photos."""

import pytest
import json

from scripts.tools.compare_finetune_recipes import main
from tests.colorizer.conftest import colour_photo, tiny_weights  # noqa: F401  (fixture)


@pytest.mark.slow
def test_it_scores_the_base_and_each_recipe_on_the_same_held_out_photos(tmp_path, tiny_weights, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(8):
        colour_photo(i).save(photos / f"{i}.png")

    code = main(["--photos", str(photos), "--base", str(tiny_weights), "--out", str(tmp_path / "out"),
                 "--train", "4", "--held-out", "4", "--image-size", "64", "--batch-size", "2",
                 "--only", "2 L1, lr 2e-5", "--only", "1 L1 + 1 GAN"])

    assert code == 0
    table = json.loads((tmp_path / "out" / "table.json").read_text())
    assert list(table) == ["base (no fine-tuning)", "1 L1 + 1 GAN, lr 1e-4", "2 L1, lr 2e-5"]
    assert all(0 < row["metrics"]["auc"] <= 1 for row in table.values())
    assert "| 2 L1, lr 2e-5 |" in capsys.readouterr().out
    assert len(list((tmp_path / "out" / "held_out").iterdir())) == 4


def test_too_few_photos_is_a_clear_error(tmp_path, tiny_weights):
    import pytest

    (tmp_path / "photos").mkdir()
    colour_photo(0).save(tmp_path / "photos" / "a.png")
    with pytest.raises(SystemExit, match="has 1 usable photos; 120 are needed"):
        main(["--photos", str(tmp_path / "photos"), "--base", str(tiny_weights), "--out", str(tmp_path / "out")])
