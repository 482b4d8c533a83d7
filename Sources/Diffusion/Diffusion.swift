@_exported import DiffusionEngine
@_exported import DiffusionLayers
