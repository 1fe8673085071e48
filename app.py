"""BatchNorm Lab, the page: `streamlit run app.py`.

Only layout lives here; widgets, figures, texts and run handling are in bn_demo/ui/.
"""

import streamlit as st

from bn_demo.ui import controls, layout, state
from bn_demo.ui.strings import t

st.set_page_config(page_title="BatchNorm Lab", page_icon="🧪", layout="wide", initial_sidebar_state="expanded")
state.warm_up()
runs = state.session_runs()
lang = controls.init_session()
config, error = controls.sidebar(lang, lambda name: state.data_status(name, runs=runs))
lang = st.session_state[controls.key("lang")]
controls.sync_url(config, lang)

layout.header(lang)
layout.link_warning(lang)
lab, concepts = st.tabs([t("tab_lab", lang), t("tab_concepts", lang)])
with lab:
    layout.control_bar(runs, config, error, lang)
    layout.live_view(runs, lang)
with concepts:
    layout.concepts(lang)
