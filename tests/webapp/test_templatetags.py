from webapp.photos.templatetags.photos import breakable


def test_a_file_name_may_wrap_after_its_separators_and_stays_escaped():
    assert breakable("old_photo-1931.jpg") == "old_<wbr>photo-<wbr>1931.<wbr>jpg"
    assert breakable("<script>.jpg") == "&lt;script&gt;.<wbr>jpg"
