@_exported import DiffusionLayers
