"""Grains: analysing individual neurons of neural NLP models (Dalvi et al., AAAI 2019).

The package is imported as ``lib``; each module owns one concept of the paper (see DESIGN.md).
"""
