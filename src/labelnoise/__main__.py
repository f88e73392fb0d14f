import sys

from labelnoise.cli import main

sys.exit(main())
