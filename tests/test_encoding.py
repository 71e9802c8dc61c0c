"""crawler.encoding.decode_html: BOM, header, meta, detection, and the GB18030 rule."""

from __future__ import annotations

import codecs

from crawler.encoding import decode_html

CHINESE = "中俄科技创新年：双方加快制定实施方案，外交部发言人耿爽在例行记者会上表示。"
RUSSIAN = (
    "Министерство иностранных дел Российской Федерации сообщило, что Россия и Китай "
    "ускоряют подготовку плана мероприятий Годов российско-китайского научно-технического "
    "и инновационного сотрудничества. Об этом заявил официальный представитель МИД."
)


def _page(text: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


def test_gbk_bytes_with_meta_charset_decode_as_gb18030() -> None:
    body = _page(CHINESE, '<meta charset="gbk">').encode("gbk")
    text, encoding = decode_html(body)
    assert CHINESE in text
    assert encoding == "gb18030"


def test_gb2312_http_equiv_decodes_gb18030_only_characters() -> None:
    # 𠀀 (U+20000) and € exist in GB18030 but not in GB2312: a site that declares GB2312 and
    # serves GB18030 still decodes cleanly.
    head = '<meta http-equiv="Content-Type" content="text/html; charset=GB2312">'
    body = _page(CHINESE + "𠀀€", head).encode("gb18030")
    text, encoding = decode_html(body)
    assert CHINESE + "𠀀€" in text
    assert encoding == "gb18030"


def test_utf8_bom_wins() -> None:
    body = codecs.BOM_UTF8 + _page(CHINESE, '<meta charset="gbk">').encode("utf-8")
    text, encoding = decode_html(body, "text/html; charset=GBK")
    assert CHINESE in text
    assert not text.startswith("\ufeff")
    assert encoding == "utf-8"


def test_utf16_bom_without_declaration() -> None:
    text, encoding = decode_html(_page(RUSSIAN).encode("utf-16"))
    assert RUSSIAN in text
    assert encoding.startswith("utf-16")


def test_http_header_beats_meta() -> None:
    body = _page(RUSSIAN, '<meta charset="utf-8">').encode("cp1251")
    text, encoding = decode_html(body, "text/html; charset=windows-1251")
    assert RUSSIAN in text
    assert encoding == "cp1251"


def test_meta_used_without_header() -> None:
    body = _page(RUSSIAN, '<meta charset="windows-1251">').encode("cp1251")
    text, encoding = decode_html(body, "text/html")
    assert RUSSIAN in text
    assert encoding == "cp1251"


def test_resaved_utf8_page_with_stale_gb2312_meta_decodes_as_utf8() -> None:
    # people.com.cn fixtures: <meta charset=GB2312>, bytes re-saved as UTF-8.
    body = _page(CHINESE, '<meta http-equiv="Content-Type" content="text/html; charset=GB2312">')
    text, encoding = decode_html(body.encode("utf-8"))
    assert CHINESE in text
    assert encoding == "utf-8"


def test_undeclared_utf8_is_detected() -> None:
    text, encoding = decode_html(_page(CHINESE + " " + RUSSIAN).encode("utf-8"))
    assert CHINESE in text and RUSSIAN in text
    assert encoding == "utf-8"


def test_undeclared_windows_1251_is_detected() -> None:
    text, encoding = decode_html(_page(RUSSIAN).encode("cp1251"))
    assert RUSSIAN in text
    assert encoding == "cp1251"


def test_undeclared_gbk_is_detected() -> None:
    text, encoding = decode_html(_page(CHINESE * 3).encode("gbk"))
    assert CHINESE in text
    assert encoding == "gb18030"


def test_ascii_and_empty_bodies() -> None:
    assert decode_html(b"<p>plain</p>") == ("<p>plain</p>", "utf-8")
    assert decode_html(b"") == ("", "utf-8")


def test_undecodable_bytes_never_raise() -> None:
    text, encoding = decode_html(b"<p>ok \xff\xfe\xfd</p>", "text/html; charset=utf-8")
    assert encoding == "utf-8"
    assert "\ufffd" in text
