from .overlap import *  # noqa
