"""``python -m service.cli``, as the tests and ``itu bench`` start the command line."""
import sys

from . import main

sys.exit(main())
