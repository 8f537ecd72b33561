"""``drivelake anonymize``: blur or pixelate faces and licence plates in an image or video file."""

from __future__ import annotations

from pathlib import Path

import typer

from drivelake.cli.output import fail, stderr


def anonymize(
    input: Path = typer.Argument(..., exists=True, dir_okay=False, help="Image or video file"),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the anonymised copy"),
    faces: bool = typer.Option(True, "--faces/--no-faces", help="Redact faces"),
    plates: bool = typer.Option(True, "--plates/--no-plates", help="Redact licence plates"),
    mode: str = typer.Option("blur", "--mode", help="blur or pixelate"),
    keep_audio: bool = typer.Option(False, "--keep-audio", help="Copy audio (dropped by default)"),
    face_model: Path = typer.Option(None, "--face-model", help="EgoBlur face TorchScript file"),
    plate_model: Path = typer.Option(None, "--plate-model", help="EgoBlur plate TorchScript file"),
) -> None:
    """Write a copy of INPUT with faces and plates blurred or pixelated."""
    from drivelake.privacy.anonymize import Anonymizer, anonymize_image, anonymize_video, is_image
    from drivelake.privacy.redact import Mode

    if mode not in Mode.__members__:
        raise fail(f"--mode must be blur or pixelate, not {mode!r}")
    if not (faces or plates):
        raise fail("nothing to do: both --no-faces and --no-plates given")
    anonymizer = Anonymizer(
        faces=faces,
        plates=plates,
        mode=mode,
        face_detector=_egoblur(face_model, "face") if faces and face_model else None,
        plate_detector=_egoblur(plate_model, "plate") if plates and plate_model else None,
    )
    if is_image(input):
        regions = anonymize_image(input, output, anonymizer)
        stderr.print(f"{output}: {regions} regions redacted", soft_wrap=True)
    else:
        frames = anonymize_video(input, output, anonymizer, keep_audio=keep_audio)
        stderr.print(f"{output}: {frames} frames anonymised", soft_wrap=True)


def eval_anonymize(
    labels: Path = typer.Argument(..., exists=True, dir_okay=False, help="Labelled boxes JSON"),
    shared: Path = typer.Option(Path("../shared/data"), "--shared", help="Shared data folder"),
) -> None:
    """Recall and precision of face and plate redaction per frame and overall."""
    from drivelake.privacy.anonymize import Anonymizer
    from drivelake.privacy.evaluate import load_labels, report

    images = load_labels(labels, shared)
    anonymizer = Anonymizer()
    for line in report(images, [anonymizer.boxes(image.image) for image in images]):
        typer.echo(line)


def _egoblur(path: Path, label: str):
    from drivelake.privacy.egoblur import EgoBlurDetector

    return EgoBlurDetector(path, label=label)


def register(app: typer.Typer) -> None:
    from drivelake.cli.events import eval_app

    app.command()(anonymize)
    eval_app.command("anonymize")(eval_anonymize)
