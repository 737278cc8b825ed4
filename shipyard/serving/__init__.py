"""`shipyard serve`: a registry model behind KServe's model server (V1 and Open Inference Protocol V2).

The same code serves on a laptop and, on the project image, as a KServe predictor. Importing this
package is cheap; kserve (seconds to import) is loaded only by ``shipyard.serving.model`` and
``shipyard.serving.server``. ``shipyard.serving.client`` needs only the standard library and pandas.
``shipyard.serving.traffic_log`` writes the answered requests to the store in batches, off the request path.
``shipyard.serving.segments`` serves a model with segments: each segment's model under its own name, and the
model's own name routing each row to its segment's model.
"""
