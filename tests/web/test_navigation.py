"""The main navigation: every domain's NAV items, grouped into areas without the domains naming one, and one
current item per page."""

from __future__ import annotations

from lifebank.web.templating import NavItem, current_item, nav_groups, navigation


def test_every_item_lands_in_an_area_and_the_areas_keep_their_order() -> None:
    items = navigation()
    assert all(item.group is not None for item in items)
    by_path = {item.path: item.group for item in items}
    assert by_path["/dashboard"] == "" and by_path["/biobank/storage"] == "Biobank"
    assert by_path["/hla/search"] == "Registry" and by_path["/omics/variants"] == "Genome data"
    assert by_path["/admin/users"] == "Administration" == by_path["/account"]
    labels = [group.label for group in nav_groups(items, None)]
    assert labels[0] == "" and labels[-1] == "Administration"
    assert labels.index("Biobank") < labels.index("Registry") < labels.index("Genome data")


def test_a_domain_may_name_its_own_area_which_comes_before_administration() -> None:
    items = [NavItem("Users", "/admin/users", None, 90, group="Administration"),
             NavItem("Trials", "/trials", None, 80, group="Trials"),
             NavItem("Storage", "/biobank/storage", None, 11, group="Biobank")]
    assert [g.label for g in nav_groups(items, None)] == ["Biobank", "Trials", "Administration"]


def test_the_current_item_is_the_longest_path_at_a_folder_boundary() -> None:
    items = [NavItem("Donor search", "/hla/search", group="Registry"),
             NavItem("Saved searches", "/hla/searches", group="Registry"),
             NavItem("Specimens", "/biobank/specimens", group="Biobank")]
    assert current_item(items, "/hla/searches/3").label == "Saved searches"
    assert current_item(items, "/hla/search").label == "Donor search"
    assert current_item(items, "/biobank/specimens/TUBE-1").label == "Specimens"
    assert current_item(items, "/find") is None
    groups = nav_groups(items, current_item(items, "/hla/searches"))
    assert [(g.label, g.current) for g in groups] == [("Biobank", False), ("Registry", True)]
