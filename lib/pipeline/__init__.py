"""The pipeline layer: corpora, properties, model sources, training, extraction, and the cached steps that turn
(profile, model, corpus, property) into artifacts for the notebooks."""
