/// The async sequences SensorStream's operators (``debounce(for:tolerance:clock:)``,
/// ``throttle(for:clock:latest:)``, ``removeDuplicates()``, ``liveness(timeout:clock:)``)
/// are defined on: the client's streams (``SensorReadings``, `AsyncStream`), the operators'
/// own sequences, and `map`/`filter`/`compactMap` of any of them.
///
/// Why not every `AsyncSequence`: swift-async-algorithms defines `debounce`, `throttle` and
/// `removeDuplicates` there, and an app importing both would get ambiguous calls. A
/// constrained protocol is more specific than `AsyncSequence`, so with both imported the
/// compiler picks ours on these sequences and theirs everywhere else, without ambiguity.
/// Adopt it on your own sequences to get the operators there too.
public protocol SensorStreamSequence: AsyncSequence {}

extension SensorReadings: SensorStreamSequence {}
extension AsyncStream: SensorStreamSequence {}
extension AsyncThrowingStream: SensorStreamSequence {}
extension AsyncMapSequence: SensorStreamSequence where Base: SensorStreamSequence {}
extension AsyncFilterSequence: SensorStreamSequence where Base: SensorStreamSequence {}
extension AsyncCompactMapSequence: SensorStreamSequence where Base: SensorStreamSequence {}
extension DebouncedSequence: SensorStreamSequence {}
extension ThrottledSequence: SensorStreamSequence {}
extension DeduplicatedSequence: SensorStreamSequence {}
extension LivenessSequence: SensorStreamSequence {}
