"""BatchNorm Lab, the page: `streamlit run app.py`.

Only layout lives here; widgets, figures, texts and run handling are in bn_demo/ui/.
"""

import streamlit as st

from bn_demo.ui import controls, layout, state, sweep_view
from bn_demo.ui.strings import t

st.set_page_config(page_title="BatchNorm Lab", page_icon="🧪", layout="wide", initial_sidebar_state="expanded")
# Streamlit's own "Stop" (top right, while a script runs) stops the page's script, not the training run, and
# a script stopped before it has redrawn the page leaves the page blank (issue 8; see layout._on_start). It
# has the run's Stop button's name, so a learner cannot tell them apart: hidden. (Style only: takes no space.)
st.html("<style>[data-testid='stStatusWidget'] button {display: none}</style>")
runs = state.session_runs()
state.take_run_link()  # `run=` names a run, not a setting: out before the link is read
lang = controls.init_session()
config, error = controls.sidebar(lang, lambda name: state.data_status(name, runs=runs))
lang = st.session_state[controls.key("lang")]
controls.sync_url(config, lang)
state.link_run(runs)

# Fixed containers: the live view's fragment is named by its place on the page, so it keeps one name
# however many notices and buttons the runs before it drew. A browser whose refresh timer still names an
# earlier place would otherwise ask, every 2 s, for a fragment that no longer exists, and the charts froze.
top, below = st.container(), st.container()
with top:
    layout.header(lang, welcome=runs.runner is None and not layout.replaying())
    layout.link_warning(lang)
    layout.run_lost_notice(runs, lang)
# The sweep and concepts tabs draw only when open: on a first visit their chart and formulas would hold
# back the first paint of the lab's buttons. The lab always draws (its widgets keep their state).
with below:
    lab, sweep, concepts = st.tabs([t("tab_lab", lang), t("tab_sweep", lang), t("tab_concepts", lang)],
                                   key="page_tab", on_change="rerun")
with lab:
    bar, view = st.container(), st.container()
    with bar:
        layout.control_bar(runs, config, error, lang)
    with view:
        if layout.replaying():
            layout.replay_view(lang)
        else:
            layout.live_view(runs, lang)
if sweep.open:
    with sweep:
        sweep_view.sweep_tab(lang)
if concepts.open:
    with concepts:
        layout.concepts(lang)
state.warm_up()  # last: the page is drawn before the one-time imports start (bn_demo/ui/state.py)
