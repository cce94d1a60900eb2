import sys

from srv6_ofapp.launcher import main

sys.exit(main())
