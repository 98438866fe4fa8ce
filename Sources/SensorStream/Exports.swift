// `JSONValue`, the type of every reading, is part of this library's public API but lives in the
// wire-protocol module that the hub shares: an app that imports SensorStream sees it too.
@_exported import SensorWire
