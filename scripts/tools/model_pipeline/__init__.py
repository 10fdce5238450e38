"""The pipeline behind scripts/tools/default_model.py: the default recipe (recipe.py), its stages
chained in one resumable run folder (chain.py), the metrics table (score.py) and the before/after
sheet (sheet.py)."""
