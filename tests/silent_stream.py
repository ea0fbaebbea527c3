"""A stand-in for sounddevice.OutputStream where there is no sound card to open (app tests, the
stall benchmark, the screenshot script). Tests pull audio through the player's real callback
themselves; the ALSA null-sink test opens a real stream."""


class SilentStream:
    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def start(self):
        pass

    def stop(self):
        pass

    def close(self):
        pass
