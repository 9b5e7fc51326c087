"""The AWS side of the pipeline as code: `smartcity aws plan | up | down | status | env`."""
