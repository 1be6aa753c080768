print("toy")
