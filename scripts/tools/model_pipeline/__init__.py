"""The pipeline behind scripts/tools/default_model.py: pack the data for the GPU machine, train the
recipes there in one call, collect and score what comes back, draw the before/after sheet."""
