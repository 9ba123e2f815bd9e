"""A class handler: flashctl parses this file, it never imports it."""


class Voice:
    def __init__(self):
        self.voices = {"ada": "warm"}

    async def setup(self):
        self.ready = True

    async def speak(self, text: str, voice: str = "ada") -> dict:
        return {"text": text, "voice": voice}

    def describe(self, name: str) -> dict:
        return {"name": name, "tone": self.voices.get(name)}


def health():
    return {"status": "ok"}
