"""``python -m featref`` runs the CLI."""

import sys

from featref.cli import main

sys.exit(main())
