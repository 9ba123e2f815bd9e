class Service:
    def predict(self, text: str):
        return text

    @staticmethod
    def version():
        return "1"
