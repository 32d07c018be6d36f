print("goodinit")
