"""`python -m cratedigger_ui` starts the app, like the `cratedigger-app` command."""

import sys

from cratedigger_ui.app import main

sys.exit(main())
