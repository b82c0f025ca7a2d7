import sys

from emokeras.cli import main

sys.exit(main())
