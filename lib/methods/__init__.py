"""The methods layer: Linguistic and Cross-model Correlation Analysis on arrays (``acts`` words × neurons,
``labels`` one per row, ``order`` neuron ids most important first). Nothing here imports the pipeline."""
