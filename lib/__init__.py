"""Grains: analysing individual neurons of neural NLP models (Dalvi et al., AAAI 2019).

The package is imported as ``lib`` and has two layers (DESIGN.md, "Two layers"):

- ``lib.methods``: the paper's methods on plain arrays (probing, ranking, correlation, classifier ablation,
  analysis); they import nothing from the pipeline, so they run on activations from anywhere.
- ``lib.pipeline``: corpora, properties, models, training, extraction and the cached
  (profile, model, corpus, property) → artifact steps the notebooks call.

``lib.viz`` draws, ``lib.runner`` executes the notebooks and ``lib.summary`` gathers their results.
"""
