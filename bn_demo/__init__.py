"""BatchNorm Lab: watch Batch Normalization work, twin against twin.

The engine (config, data, model, probes, engine, runner, cli) imports no Streamlit; the page
(`app.py` and `bn_demo.ui`) only lays out widgets and draws snapshots.
"""

__version__ = "0.1.0"
