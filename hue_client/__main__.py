import sys

from hue_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
