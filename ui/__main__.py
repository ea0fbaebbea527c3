"""`python -m cratedigger_ui` starts the app, like the `cratedigger-app` command."""

import sys

from cratedigger_ui.app import main

if __name__ == "__main__":  # the cutting worker process imports this module again: it must not start an app
    sys.exit(main())
