"""Figures render the labels of real corpora: Brown's possessive tags ("PP$", "PP$$") contain "$", which
matplotlib would otherwise read as TeX math and fail on when the figure is drawn (the demo's notebook 04 did)."""
import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from lib import viz  # noqa: E402


def test_dollar_labels_draw_literally():
    table = pd.DataFrame({"label": ["PP$", "PP$$", "NN"], "neurons": [3, 2, 40], "class": ["closed", "closed", "open"]})
    ax = viz.plot_neurons_needed(table, x="label", y="neurons", hue="class", title="salient neurons per label")
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["PP$", "PP$$", "NN"]
