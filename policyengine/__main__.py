import sys

from policyengine.cli import main

sys.exit(main())
