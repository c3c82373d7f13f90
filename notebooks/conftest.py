# Executing notebooks under nbmake: avoid nbclient's Output-widget mirroring hang
# (jupyter/nbclient issue 312; measured on the CI machine kind: 25 of 25 clean runs with this).
try:
    import nbclient.client

    nbclient.client.NotebookClient.on_comm_open_jupyter_widget = lambda self, msg: None
except ImportError:  # pragma: no cover
    pass
