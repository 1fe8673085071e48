"""The Streamlit page's helpers. Only `controls`, `layout` and `state` import Streamlit; `strings`,
`figures`, `params` and `export` are plain functions that tests call without a running page."""
