/* A shared library that exports no DtProviderInit: registering it must fail cleanly. */
int devtensor_test_not_a_provider(void) { return 42; }
