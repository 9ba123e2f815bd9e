class Service:
    def __init__(self, model_path):
        self.model_path = model_path

    def predict(self, text: str):
        return text
