"""BatchNorm Lab: watch Batch Normalization work, twin against twin.

The engine (config, data, model, probes, engine, runner, cli) imports no Streamlit; the page
(`app.py` and `bn_demo.ui`), the CLI and the benchmarks read runs only through the run record
(`bn_demo/record.py`). Importing the package imports nothing else, so `python -m bn_demo --help`
and `presets` start without torch.
"""

__version__ = "0.1.0"
