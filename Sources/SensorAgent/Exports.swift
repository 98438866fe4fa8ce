// `JSONValue`, the type of events' and commands' data, lives in the wire-protocol module the
// hub shares: a program that imports SensorAgent sees it too.
@_exported import SensorWire
