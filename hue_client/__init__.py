"""`hue`: send folders of black-and-white photos to a Hue server and fetch the colorized results.

    python -m hue_client colorize SCANS --out COLORIZED
    python -m hue_client status
    python -m hue_client download PHOTO_ID

The server URL and API token come from --url/--token or HUE_URL/HUE_TOKEN.
"""

__version__ = "1.0"
