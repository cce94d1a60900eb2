from srv6_ofapp.launcher import run

run()
