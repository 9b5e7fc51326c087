import sys

from smartcity.cli.main import main

sys.exit(main())
