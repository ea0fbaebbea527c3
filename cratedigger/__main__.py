import sys

from cratedigger.cli import main

sys.exit(main())
