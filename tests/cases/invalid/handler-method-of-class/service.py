class Service:
    def predict(self, text: str):
        return text
