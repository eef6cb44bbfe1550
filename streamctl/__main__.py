"""``python -m streamctl``: the same as the ``streamctl`` command."""

from streamctl.cli.app import main

if __name__ == "__main__":
    main()
