# JupyterLab settings of the course (`make lab` passes this file with --config).
# The course runs offline: JupyterLab neither fetches news nor checks for updates, and its
# extension manager only lists what is installed instead of searching the package index.
c = get_config()  # noqa: F821 (provided by Jupyter when it reads this file)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
