"""The test suite, one folder per package of vad_core (and app/, browser/); shared helpers in helpers/."""
