"""Why a photo was not used."""


class PhotoRejected(Exception):
    """A photo cannot yield a trustworthy ROI.

    ``reason`` is a short stable code (counted in the summary), ``detail`` a
    sentence for the person reading the manifest.
    """

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.quality = {}  # the gate's measures taken before the rejection
